"""CLI commands for the intake area: ``fengqiao classify``."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from fengqiao.models.i18n import get_lang, t


def _history(ctx: typer.Context) -> list[tuple[str, str]]:
    """This desk's earlier classifications, if the store exists (classify never creates one)."""
    from fengqiao.models.errors import StoreError
    from fengqiao.store.db import default_db_path, open_db
    from fengqiao.store.intake import desk_history

    state = ctx.obj
    path = state.db_path or default_db_path()
    if not path.exists():
        return []
    try:
        db = open_db(path, create=False)
    except StoreError:
        return []
    try:
        return desk_history(db, state.config.desk_name)
    finally:
        db.close()


# Evidence that is a signal rather than a matched phrase, shown localized.
_EVIDENCE = {"history": "intake.from_history", "examples": "intake.from_examples"}


def suggestion_json(ref: Any, s: Any) -> dict[str, Any]:
    tag = ref.tags[s.code]
    dept = ref.departments[tag.department]
    return {
        "code": s.code,
        "name_zh": tag.name_zh,
        "name_en": tag.name_en,
        "department": tag.department,
        "department_zh": dept.name_zh,
        "score": round(s.score, 3),
        "evidence": list(s.evidence),
    }


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""

    @app.command("classify")
    def classify_cmd(
        ctx: typer.Context,
        text: Annotated[list[str] | None, typer.Argument(help="descriptions (default: one per line on stdin)")] = None,
        top: Annotated[int, typer.Option("--top", min=1, max=75, help="how many tags to suggest")] = 3,
        as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
        no_history: Annotated[bool, typer.Option("--no-history", help="ignore this desk's earlier calls")] = False,
    ) -> None:
        """Suggest tags for call descriptions (the same classifier as the intake screen)."""
        from fengqiao.models.classifier import build_classifier, confident
        from fengqiao.models.reference import default_reference

        from ..textout import dumps, echo

        ref = default_reference()
        classifier = build_classifier(ref, [] if no_history else _history(ctx))
        inputs = list(text) if text else sys.stdin.read().splitlines()
        lang = get_lang()
        for line in inputs:
            suggestions = classifier.suggest(line, top=top)
            if as_json:
                echo(
                    dumps(
                        {
                            "text": line,
                            "suggestions": [suggestion_json(ref, s) for s in suggestions],
                            "abstain": bool(suggestions) and not confident(suggestions),
                        }
                    )
                )
                continue
            from fengqiao.models.text import visible

            echo(visible(line, single_line=True))
            if not suggestions:
                echo(f"  {t('intake.no_suggestion')}")
            elif not confident(suggestions):
                echo(f"  {t('intake.classify_unsure')}")
            for rank, s in enumerate(suggestions, start=1):
                tag = ref.tags[s.code]
                dept = ref.departments[tag.department]
                name = tag.name_zh if lang == "zh" else tag.name_en
                dname = dept.name_zh if lang == "zh" else dept.name_en
                why = ", ".join(t(_EVIDENCE[e]) if e in _EVIDENCE else e for e in s.evidence[:3])
                echo(f"  {rank}. {s.code} {name} → {dname}  {s.score:.0%}" + (f"  ({why})" if why else ""))
