"""The till fleet behind `pos simulate`: what each till does (plan), how it talks (till)."""
