"""The HTTP shapes: the strict request model, and response models for the OpenAPI document.

Validation is strict: a float or a boolean is never taken for an integer (money is integer
minor units), no string is coerced, and an unknown field is an error rather than silently
dropped, so a till with a typo in ``unitPrice`` learns it at once instead of charging 0.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi.exceptions import RequestValidationError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from pos.domain.currencies import ISO_4217_CODES, is_iso_4217
from pos.domain.intake import OrderRequest
from pos.domain.orders import Item
from pos.domain.status import OrderStatus

MAX_ITEMS = 500
MAX_QUANTITY = 10_000
MAX_UNIT_PRICE = 10**9

# Identifiers end up in logs, headers of downstream calls and file names of reports.
SAFE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
# Free text may be any language, but no control characters (newlines in receipts, NULs).
PRINTABLE_TEXT_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]+$"


def _known_currency(code: str) -> str:
    if not is_iso_4217(code):
        raise PydanticCustomError("currency", "not an ISO 4217 currency code")
    return code


SafeId = Annotated[str, Field(min_length=1, max_length=64, pattern=SAFE_ID_PATTERN)]
Currency = Annotated[
    str,
    Field(
        pattern=r"^[A-Z]{3}$",
        examples=["EUR"],
        description="ISO 4217 code of a circulating currency",
        json_schema_extra={"enum": sorted(ISO_4217_CODES)},
    ),
    AfterValidator(_known_currency),
]


def _integral(value: Any) -> Any:
    """``2.0`` is the integer 2 (JSON Schema says so too); ``2.5``, ``"2"`` and ``true``
    stay what strict validation refuses."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: Runs before (outside) the integer schema and its bounds, which stay in the JSON Schema.
AsWhole = BeforeValidator(_integral)

_STRICT = ConfigDict(strict=True, extra="forbid", frozen=True)


class ItemIn(BaseModel):
    model_config = _STRICT

    sku: Annotated[str, Field(min_length=1, max_length=64, pattern=PRINTABLE_TEXT_PATTERN)]
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=PRINTABLE_TEXT_PATTERN)]
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY), AsWhole]
    unit_price: Annotated[
        int,
        Field(alias="unitPrice", ge=0, le=MAX_UNIT_PRICE, description="Minor units (cents)"),
        AsWhole,
    ]


class OrderIn(BaseModel):
    """The body of ``POST /orders``. ``storeId`` and ``deviceId`` must be those of the
    device whose key authenticates the request (else 403 device-mismatch)."""

    model_config = ConfigDict(
        **_STRICT,
        json_schema_extra={
            "examples": [
                {
                    "storeId": "store-1",
                    "deviceId": "till-7",
                    "currency": "EUR",
                    "items": [{"sku": "LATTE-L", "name": "Latte", "quantity": 2, "unitPrice": 450}],
                }
            ]
        },
    )

    store_id: Annotated[SafeId, Field(alias="storeId")]
    device_id: Annotated[SafeId, Field(alias="deviceId")]
    currency: Currency
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=MAX_ITEMS)]

    def to_domain(self) -> OrderRequest:
        return OrderRequest(
            store_id=self.store_id,
            device_id=self.device_id,
            currency=self.currency,
            items=tuple(Item(i.sku, i.name, i.quantity, i.unit_price) for i in self.items),
        )


def parse_order(raw: bytes) -> OrderRequest:
    """A `POST /orders` body, or RequestValidationError (the API's 400/422 problems)."""
    try:
        return OrderIn.model_validate_json(raw).to_domain()
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_input=False, include_url=False)) from None


_TIMESTAMP = "RFC 3339, UTC, millisecond precision: 2026-11-25T12:00:00.123Z"

# Response models: answers are rendered by pos.domain.orders.order_document as bytes
# (they must replay byte for byte); these classes only document that shape.


class ItemOut(BaseModel):
    sku: str
    name: str
    quantity: int
    unitPrice: int  # noqa: N815 - the contract's field name


class OrderOut(BaseModel):
    id: uuid.UUID = Field(description="UUID of the order")
    storeId: str  # noqa: N815
    deviceId: str  # noqa: N815
    currency: str
    items: list[ItemOut]
    totalAmount: int = Field(description="Computed by the server, minor units")  # noqa: N815
    status: OrderStatus
    createdAt: datetime = Field(description=_TIMESTAMP)  # noqa: N815
    processedAt: datetime | None = Field(description=_TIMESTAMP)  # noqa: N815


class OrderDetails(OrderOut):
    attempts: int = Field(description="Delivery attempts to the third party so far")
    lastError: str | None  # noqa: N815
    receiptRef: str | None  # noqa: N815


class OrderPage(BaseModel):
    items: list[OrderDetails]
    nextCursor: str | None = Field(  # noqa: N815
        description="Opaque; pass it as `cursor` for the next (older) page, null at the end"
    )


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str
    requestId: str | None = None  # noqa: N815


class FieldError(BaseModel):
    field: str
    location: str
    message: str
    type: str


class ValidationProblem(Problem):
    errors: list[FieldError]


class KeyExpiredProblem(Problem):
    orderId: uuid.UUID = Field(description="The order this key created")  # noqa: N815


class ReadinessProblem(Problem):
    checks: dict[str, str]


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


_LOCATIONS = {("body",), ("query",), ("path",), ("header",), ("cookie",)}


def field_errors(errors: Any) -> list[dict[str, str]]:
    """Pydantic/FastAPI error entries as ``{"field": "items[0].quantity", ...}``."""
    result = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        location, path = (loc[0], loc[1:]) if loc[:1] in _LOCATIONS else ("body", loc)
        field = ""
        for part in path:
            field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else part)
        result.append(
            {
                "field": field or str(location),
                "location": str(location),
                "message": str(error.get("msg", "invalid")),
                "type": str(error.get("type", "value_error")),
            }
        )
    return result
