"""ISO 4217 currency codes a till may charge in, embedded so validation needs no library.

The circulating currencies of ISO 4217 list one as of 2026 (Bulgaria on the euro since
2026-01-01, the Caribbean guilder XCG in place of ANG, ZWG in place of ZWL). Fund codes
(BOV, CLF, USN...), precious metals (XAU...) and the testing codes (XTS, XXX) are left out
on purpose: nobody pays for a latte in them. When ISO amends the list, edit it here.
"""

from __future__ import annotations

_CODES = """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR
    FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD
    JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD
    MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP
    PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC
    SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST
    XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
"""

ISO_4217_CODES: frozenset[str] = frozenset(_CODES.split())


def is_iso_4217(code: str) -> bool:
    return code in ISO_4217_CODES
