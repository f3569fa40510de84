import re
import unicodedata

MAX_SLUG_LENGTH = 60
_CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        [
            "a",
            "b",
            "v",
            "g",
            "d",
            "e",
            "e",
            "zh",
            "z",
            "i",
            "y",
            "k",
            "l",
            "m",
            "n",
            "o",
            "p",
            "r",
            "s",
            "t",
            "u",
            "f",
            "kh",
            "ts",
            "ch",
            "sh",
            "shch",
            "_",
            "y",
            "_",
            "e",
            "yu",
            "ya",
        ],
        strict=True,
    )
)


def slugify(text: str) -> str:
    """A URL-safe slug; Cyrillic is transliterated so Russian names stay readable."""
    lowered = "".join(_CYRILLIC.get(char, char) for char in text.lower()).replace("_", "")
    ascii_only = unicodedata.normalize("NFKD", lowered).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_only).strip("-")[:MAX_SLUG_LENGTH].strip("-")
    return slug or "company"


def with_suffix(slug: str, suffix: str) -> str:
    return f"{slug[: MAX_SLUG_LENGTH - len(suffix) - 1]}-{suffix}"
