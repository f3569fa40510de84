"""The billing emails render in both languages: a subject, and every value they are given in
the text as is and in the HTML escaped."""

import re
from typing import Any

import pytest
from markupsafe import escape

from app.models.user import Language
from app.services.emails import render

# Characters HTML must escape, so the test sees the HTML part escape them and the text not.
COMPANY = 'Acme <b>&"Co'
ORDER_LINK = "https://arvlite.example/orders/42?tab=summary&from=email"

CONTEXTS: dict[str, dict[str, Any]] = {
    "order_paid": {
        "company_name": COMPANY,
        "order_number": "A1B2C3D4",
        "amount": "1 234,56 ₽",
        "link": ORDER_LINK,
    },
    "payment_failed": {
        "company_name": COMPANY,
        "order_number": "A1B2C3D4",
        "amount": "1 234,56 ₽",
        "reason": "card_declined: insufficient_funds <3ds>",
        "link": ORDER_LINK,
    },
    "refund_done": {
        "company_name": COMPANY,
        "order_number": "A1B2C3D4",
        "amount": "617,28 ₽",
        "not_reversed": "10 GB of extra storage already used",
        "link": ORDER_LINK,
    },
    "invoice_ready": {
        "company_name": COMPANY,
        "order_number": "A1B2C3D4",
        "invoice_number": "2026-000042",
        "amount": "1 234,56 ₽",
        "link": "https://arvlite.example/invoices/42.pdf?expires=1767225600&signature=ab%2Fcd",
        "link_ttl_hours": 72,
    },
    "renewal_due": {
        "company_name": COMPANY,
        "plan_name": "Pro",
        "period_end": "2026-12-31",
        "amount": "9 900,00 ₽",
        "link": "https://arvlite.example/orders/43",
    },
}

NOT_REVERSED_LABEL = {Language.EN: "What we could not undo", Language.RU: "Что отменить не удалось"}

CYRILLIC = re.compile("[\u0400-\u04ff]")


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("kind", sorted(CONTEXTS))
def test_a_billing_email_holds_every_value_it_is_given(kind: str, language: Language) -> None:
    context = CONTEXTS[kind]
    email = render(kind, language, context)

    assert email["subject"].strip()
    assert "\n" not in email["subject"]
    if language is Language.RU:
        assert CYRILLIC.search(email["subject"])
        assert CYRILLIC.search(email["text"])
    assert email["text"].strip()
    assert "\n\n\n" not in email["text"]
    assert f'<html lang="{language.value}">' in email["html"]
    assert f"<title>{escape(email['subject'])}</title>" in email["html"]
    for name, value in context.items():
        assert str(value) in email["text"], name
        assert str(escape(str(value))) in email["html"], name


@pytest.mark.parametrize("language", list(Language))
def test_the_company_name_is_escaped_in_the_html_only(language: Language) -> None:
    email = render("order_paid", language, CONTEXTS["order_paid"])

    assert COMPANY in email["text"]
    assert "Acme &lt;b&gt;&amp;&#34;Co" in email["html"]
    assert "<b>" not in email["html"]
    assert ORDER_LINK not in email["html"]


@pytest.mark.parametrize("language", list(Language))
def test_a_refund_with_everything_undone_leaves_out_the_paragraph(language: Language) -> None:
    label = NOT_REVERSED_LABEL[language]
    full = render("refund_done", language, CONTEXTS["refund_done"])
    assert label in full["text"]
    assert label in full["html"]

    email = render("refund_done", language, {**CONTEXTS["refund_done"], "not_reversed": ""})

    assert label not in email["text"]
    assert label not in email["html"]
    assert "\n\n\n" not in email["text"]
    assert ORDER_LINK in email["text"]
