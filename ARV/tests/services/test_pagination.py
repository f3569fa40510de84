from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import User
from app.services.pagination import PageParams, paginate


def test_page_has_items_total_limit_and_offset(db: Session) -> None:
    for index in range(5):
        db.add(User(email=f"page-{index}@example.com"))
    db.flush()
    statement = select(User).where(User.email.like("page-%")).order_by(User.email)

    page = paginate(db, statement, PageParams(limit=2, offset=2))

    assert [user.email for user in page.items] == ["page-2@example.com", "page-3@example.com"]
    assert (page.total, page.limit, page.offset) == (5, 2, 2)


def test_offset_past_the_end_gives_an_empty_page_with_the_total(db: Session) -> None:
    db.add(User(email="only@example.com"))
    db.flush()
    statement = select(User).where(User.email == "only@example.com").order_by(User.id)
    page = paginate(db, statement, PageParams(limit=10, offset=10))
    assert page.items == []
    assert page.total == 1
