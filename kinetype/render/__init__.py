"""The procedural animation engine (skia + HarfBuzz). Never imports torch.

``render_clip``, ``plan_clip`` and ``ClipPlan`` are imported lazily so that
``kinetype.render.clip`` (the Clip dataclass, read by writers and loaders) stays cheap to import.
"""

from kinetype.render.clip import Captions, Clip

__all__ = ["Captions", "Clip", "ClipPlan", "plan_clip", "render_clip"]


def __getattr__(name: str):
    if name in ("ClipPlan", "plan_clip"):
        from kinetype.render import plan

        return getattr(plan, name)
    if name == "render_clip":
        from kinetype.render import engine

        return engine.render_clip
    raise AttributeError(name)
