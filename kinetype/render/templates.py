"""Reading template folders: every ``*.toml`` below a folder holds one or more ``[[template]]`` tables.

A user adds a template by dropping a file in the folder. Ids are unique across the folder.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from kinetype.errors import TemplateError
from kinetype.render.schema import Template, check_template
from kinetype.render.tomlfile import TomlError, read_toml

# Inside the package (kinetype/assets/templates), so an installed kinetype finds them from any folder.
BUNDLED_TEMPLATES = Path(__file__).resolve().parents[1] / "assets" / "templates"


def default_templates() -> Path:
    """The templates used when none are named: ``./templates`` when the current folder has one,
    else the templates bundled with kinetype."""
    here = Path("templates")
    return here if here.is_dir() else BUNDLED_TEMPLATES


def _read_file(path: Path) -> tuple[list[Template], list[TemplateError]]:
    try:
        raw = read_toml(path)
    except TomlError as e:
        return [], [TemplateError(path, "", str(e).removeprefix(f"{path}: "))]
    except OSError as e:
        return [], [TemplateError(path, "", f"cannot read: {e.strerror or e}")]
    extra = sorted(set(raw) - {"template"})
    if extra:
        return [], [TemplateError(path, k, "unknown top-level field (a file holds [[template]] tables only)") for k in extra]
    tables = raw.get("template")
    if not isinstance(tables, list) or not tables:
        return [], [TemplateError(path, "template", "no [[template]] tables in this file")]
    out, errors = [], []
    for k, table in enumerate(tables):
        template, errs = check_template(table, path, f"template[{k}]")
        errors.extend(errs)
        if template is not None:
            out.append(template)
    return out, errors


def scan_templates(folder: Path | str) -> tuple[list[Template], list[TemplateError]]:
    """All valid templates of a folder (sorted by id) and every error found, without raising."""
    folder = Path(folder)
    if folder.is_file():  # one template file
        files = [folder]
    elif not folder.is_dir():
        return [], [TemplateError(folder, "", "template folder or file not found")]
    else:
        files = sorted(folder.rglob("*.toml"))
    if not files:
        return [], [TemplateError(folder, "", "no *.toml template files in this folder")]
    templates, errors, seen = [], [], {}
    for path in files:
        got, errs = _read_file(path)
        errors.extend(errs)
        for t in got:
            if t.id in seen:
                errors.append(TemplateError(path, "id", f"duplicate id {t.id!r} (also in {seen[t.id]})"))
                continue
            seen[t.id] = path
            templates.append(t)
    return sorted(templates, key=lambda t: t.id), errors


@lru_cache(maxsize=8)
def _load_cached(folder: Path, stamp: tuple) -> tuple[Template, ...]:
    templates, errors = scan_templates(folder)
    if errors:
        raise errors[0]
    return tuple(templates)


def load_templates(folder: Path | str | None = None) -> list[Template]:
    """Every template of ``folder`` (default: :func:`default_templates`) sorted by id; the first
    error found raises TemplateError.

    Cached per process, keyed by the files' names, sizes and modification times.
    """
    folder = Path(folder or default_templates()).resolve()
    if folder.is_file():
        raise TemplateError(folder, "", "is a file: --templates takes a folder of template files")
    if not folder.is_dir():
        raise TemplateError(folder, "", "template folder not found")
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*.toml")))
    return list(_load_cached(folder, stamp))


def get_template(templates: list[Template], template_id: str) -> Template:
    for t in templates:
        if t.id == template_id:
            return t
    close = [t.id for t in templates if template_id.split("-")[0] in t.id][:5]
    hint = f" (did you mean: {', '.join(close)})" if close else ""
    raise TemplateError("templates", "id", f"no template with id {template_id!r}{hint}")
