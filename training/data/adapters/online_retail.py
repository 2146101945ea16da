"""UCI Online Retail (2010-2011) and Online Retail II (2009-2011) invoice lines.

Both spellings of the columns are accepted by either adapter (`InvoiceNo`/`Invoice`,
`UnitPrice`/`Price`, `CustomerID`/`Customer ID`), in CSV (also gzipped) or parquet.
One source row = one invoice line = at most one event:

- `order_id` = invoice number (cancellations keep their "C" prefix); `country` = Country;
  session, device and channel are null; `item_id` = StockCode stripped and upper-cased
  (the data writes some codes both ways, e.g. 85123a/85123A, for the same product).
- Cancellations (invoice starting with "C") and lines with quantity <= 0 are `return`
  events, and a return's quantity is always <= 0 (a positive quantity on a cancellation is
  negated), so summing quantities nets returns against purchases. Every other line is a
  `purchase` with quantity > 0.
- `user_id` = CustomerID as text without the float's ".0"; lines without one are kept as
  anonymous (null user) events: they still form baskets.
- InvoiceDate is shop-local time; it is read as UTC (the shop is in the UK).
- The line's Description becomes the item's name, taken only from lines with a positive
  price (zero-price lines carry notes such as "damaged" or "check" instead of names).

Rejections, first matching reason wins: exact duplicate line; unparsable timestamp /
quantity / unit price; missing item, order, timestamp, quantity or price; non-product stock
code (postage, fees, manual adjustments, vouchers, test lines, see `NON_PRODUCT_CODES`);
non-positive price on a purchase.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import polars as pl

from training.data.adapters.base import (
    DUPLICATE,
    DUPLICATE_RULE,
    ROW,
    Rule,
    SourceFrame,
    as_float,
    as_id,
    as_number_id,
    as_text,
    as_timestamp,
    finish,
    mark_rows,
    missing_rules,
    parse_rules,
    read_table,
)
from training.data.quality import QualityReport
from training.data.schema import COUNTRY, EVENT, ITEM, NAME, ORDER, PRICE, QTY, TS, USER
from training.errors import DataFormatError

SPELLINGS: Final[dict[str, tuple[str, ...]]] = {
    ORDER: ("InvoiceNo", "Invoice"),
    ITEM: ("StockCode",),
    NAME: ("Description",),
    QTY: ("Quantity",),
    TS: ("InvoiceDate",),
    PRICE: ("UnitPrice", "Price"),
    USER: ("CustomerID", "Customer ID"),
    COUNTRY: ("Country",),
}
"""Canonical column -> accepted source spellings (Online Retail first, then II)."""

TIME_FORMATS: Final = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M")
"""ISO text as in the parquet and CSV files here; "12/1/2010 8:26" as in the UCI export."""

NON_PRODUCT_CODES: Final = (
    r"^(POST|DOT|C2|C3|M|D|S|B|CRUK|PADS|GIFT|AMAZONFEE|BANK CHARGES"
    r"|ADJUST\d*|TEST\d*|GIFT_\d+_\d+)$"
)
"""Upper-cased stock codes that are not products: postage (POST, DOT, C2, C3), manual
lines (M), discounts (D), samples (S), bad-debt adjustments (B), fees and commissions
(BANK CHARGES, AMAZONFEE, CRUK), cushion pads sold at 0.001 (PADS), gift vouchers (GIFT,
GIFT_0001_*), stock adjustments (ADJUST, ADJUST2) and test lines (TEST001, TEST002)."""

NON_PRODUCT = "non-product stock code"
FREE_PURCHASE = "non-positive price on a purchase"


def read_online_retail(
    path: Path, report: QualityReport, *, source: str = "online-retail"
) -> SourceFrame:
    """Read an Online Retail (I or II) file; see the module docstring for the mapping."""
    raw = read_table(path)
    columns = detect_columns(raw, path)
    raw = mark_rows(raw)
    frame = raw.select(ROW, DUPLICATE, *_canonical(columns, raw.schema))
    rules: list[Rule] = [
        DUPLICATE_RULE,
        *parse_rules(raw, frame, path, {k: columns[k] for k in (TS, QTY, PRICE)}),
        *missing_rules((ITEM, ORDER, TS, QTY, PRICE)),
        (NON_PRODUCT, pl.col(ITEM).str.contains(NON_PRODUCT_CODES)),
        (FREE_PURCHASE, (pl.col(EVENT) == "purchase") & (pl.col(PRICE) <= 0)),
    ]
    return finish(frame, rules, path=path, source=source, report=report)


def detect_columns(raw: pl.DataFrame, path: Path) -> dict[str, str]:
    """Canonical column -> the spelling this file uses; raises naming a missing column."""
    found: dict[str, str] = {}
    for canonical, spellings in SPELLINGS.items():
        present = [s for s in spellings if s in raw.columns]
        if not present:
            raise DataFormatError(
                str(path),
                f"required column is missing (accepted spellings {list(spellings)}; "
                f"the file has {raw.columns})",
                column=spellings[0],
            )
        found[canonical] = present[0]
    return found


def _canonical(columns: dict[str, str], schema: pl.Schema) -> list[pl.Expr]:
    invoice = as_id(columns[ORDER])
    quantity = as_float(columns[QTY])
    price = as_float(columns[PRICE])
    is_return = invoice.str.starts_with("C") | (quantity <= 0)
    return [
        as_number_id(columns[USER], schema[columns[USER]]).alias(USER),
        as_id(columns[ITEM]).str.to_uppercase().alias(ITEM),
        pl.when(is_return).then(pl.lit("return")).otherwise(pl.lit("purchase")).alias(EVENT),
        as_timestamp(columns[TS], TIME_FORMATS, schema[columns[TS]]).alias(TS),
        pl.when(is_return & (quantity > 0)).then(-quantity).otherwise(quantity).alias(QTY),
        price.alias(PRICE),
        invoice.alias(ORDER),
        as_text(columns[COUNTRY]).alias(COUNTRY),
        pl.when(price > 0).then(as_text(columns[NAME])).alias(NAME),
    ]
