import re
import unicodedata

MAX_SLUG_LENGTH = 60
_LATIN_FOR_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
    "я": "ya",
}  # fmt: skip


def slugify(text: str) -> str:
    """A URL-safe slug; Cyrillic is transliterated so Russian names stay readable."""
    transliterated = "".join(_LATIN_FOR_CYRILLIC.get(char.lower(), char) for char in text)
    # Normalise before lower-casing: "№" decomposes to "No", which must survive.
    decomposed = unicodedata.normalize("NFKD", transliterated).lower()
    ascii_only = decomposed.encode("ascii", "ignore").decode()
    return _trim(re.sub(r"[^a-z0-9]+", "-", ascii_only), MAX_SLUG_LENGTH) or "company"


def with_suffix(slug: str, suffix: str) -> str:
    return f"{_trim(slug, MAX_SLUG_LENGTH - len(suffix) - 1)}-{suffix}"


def _trim(slug: str, length: int) -> str:
    return slug.strip("-")[:length].strip("-")
