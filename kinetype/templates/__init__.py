"""Motion templates: data files with parameter ranges, validated on load."""

from kinetype.templates.loader import BUNDLED_TEMPLATES, default_templates, get_template, load_templates, scan_templates
from kinetype.templates.schema import FONT_CLASSES, TAGS, PhaseSpec, Spec, StyleSpec, Template, derived_tags

__all__ = ["BUNDLED_TEMPLATES", "FONT_CLASSES", "TAGS", "PhaseSpec", "Spec", "StyleSpec", "Template",
           "default_templates", "derived_tags", "get_template", "load_templates", "scan_templates"]
