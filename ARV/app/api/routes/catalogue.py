"""What companies can buy: the products on sale. Any signed-in user reads them; platform
admins keep them (`/admin/products`)."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import CatalogueServiceDep, CurrentUser, PageParamsDep
from app.models.billing import ProductKind
from app.schemas.billing import ProductResponse
from app.schemas.common import Page

router = APIRouter(prefix="/catalogue", tags=["orders"])


@router.get("/products", summary="Products on sale")
def list_products_on_sale(
    _user: CurrentUser,
    catalogue: CatalogueServiceDep,
    page: PageParamsDep,
    kind: Annotated[ProductKind | None, Query(description="Only products of this kind.")] = None,
) -> Page[ProductResponse]:
    """Plans (with their period), storage add-ons (bytes), content packs (AR contents) and
    print services, with prices in kopecks and their VAT rate; by kind, then price."""
    result = catalogue.on_sale(kind, page)
    return Page[ProductResponse].model_validate(result, from_attributes=True)
