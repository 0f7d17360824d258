"""User-facing errors: each carries a one-line message the CLI prints without a traceback."""


class KinetypeError(Exception):
    """Base class for errors caused by user input (bad word, bad template file, missing model...)."""


class WordError(KinetypeError, ValueError):
    """A word outside the engine's alphabet (A–Z, a–z) or length (1–12 letters)."""


class TemplateError(KinetypeError, ValueError):
    """A template file that does not follow the schema; the message names the file and the field."""

    def __init__(self, path: str, field: str, message: str):
        self.path, self.field = str(path), field
        super().__init__(f"{path}: {field}: {message}" if field else f"{path}: {message}")


class FontError(KinetypeError):
    """A font that cannot be used (missing file, missing one of the 52 letters)."""
