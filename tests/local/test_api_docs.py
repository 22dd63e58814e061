"""docs/api.md, the project's own API reference: its generated parts match the OpenAPI document the
app serves (tests/fuzz checks that GET /v1/openapi.json is `openapi.document()`) and the code, every
operation says who may call it, its links resolve, and nothing in the repository points outside it."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from chalicelib.api import openapi
from local import apidocs
from tests.conftest import ROOT

API_MD = ROOT / "docs" / "api.md"
SKIPPED_DIRS = {".git", ".venv", "build", "dist", ".hypothesis", ".pytest_cache", "__pycache__", ".state"}


def test_docs_api_md_is_what_make_docs_writes_from_the_served_document():
    current = API_MD.read_text(encoding="utf-8")
    fresh = apidocs.render(current, openapi.document())
    assert fresh == current, "docs/api.md is stale: run `make docs` and commit it"


def test_every_operation_says_who_may_call_it_and_no_retired_one_lingers():
    operations = {op["operationId"] for _, _, op in apidocs.operations(openapi.document())}
    assert operations - set(apidocs.WHO) == set(), "add these operations to WHO in local/apidocs.py"
    assert set(apidocs.WHO) - operations == set(), "these WHO entries name no operation any more"
    assert set(apidocs.NOTES) <= operations


def test_every_operation_and_response_schema_has_its_section():
    text = API_MD.read_text(encoding="utf-8")
    document = openapi.document()
    for method, path, op in apidocs.operations(document):
        assert f"### `{method} {path}`" in text
    for name in set(document["components"]["schemas"]) - apidocs.request_bodies(document):
        assert f'<a id="schema-{name.lower()}"></a>' in text


def test_api_md_shows_an_operation_with_its_body_constraints_and_errors():
    section = _section(API_MD.read_text(encoding="utf-8"), "### `POST /v1/cards/{card_id}/reloads`")
    assert "**Who:** owner, agent, pos" in section
    assert "**Idempotency-Key:** required" in section
    assert "`201` [Transaction](#schema-transaction)" in section
    assert "| `payment_ref` | string, 1..128 chars | yes |" in section
    assert "`409`" in section and "`422`" in section


def test_a_document_region_that_lost_its_marker_is_refused():
    with pytest.raises(ValueError, match="generated:endpoints"):
        apidocs.render("# no markers here\n", openapi.document())


def test_make_docs_check_reports_a_stale_file(tmp_path: Path, capsys):
    stale = tmp_path / "api.md"
    stale.write_text(API_MD.read_text(encoding="utf-8").replace("| `limit_exceeded` |", "| `limit_exceded` |"))
    assert apidocs.main(["--check", "--file", str(stale)]) == 1
    assert "make docs" in capsys.readouterr().err
    assert apidocs.main(["--check", "--file", str(API_MD)]) == 0


@pytest.mark.parametrize("document", ["docs/api.md", "README.md"])
def test_links_within_the_repository_resolve(document: str):
    path = ROOT / document
    text = path.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)\)", _without_code(text)):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        assert linked.exists(), f"{document} links to missing {file_part}"
        if anchor and linked.suffix == ".md":
            assert anchor in _anchors(linked.read_text(encoding="utf-8")), f"{document} links to missing #{anchor} in {linked.name}"


def test_nothing_in_the_repository_points_outside_it():
    offenders = []
    for path in _repository_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if "../shared" in text or "shared/CONTRACT" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == [], "these point to ../shared/, which a clone does not have"


def _repository_files():
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [name for name in subfolders if name not in SKIPPED_DIRS and not name.endswith(".egg-info")]
        for name in files:
            path = Path(folder) / name
            if path.suffix not in (".pyc", ".zip") and path != Path(__file__).resolve():
                yield path


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n### ", start + len(heading))
    return text[start:end if end >= 0 else None]


def _without_code(text: str) -> str:
    return re.sub(r"```.*?```", "", text, flags=re.S)


def _anchors(text: str) -> set[str]:
    """Explicit `<a id>` anchors and GitHub's heading slugs (lower case, punctuation dropped, spaces
    to hyphens, `-1`, `-2` … for repeats)."""
    found = set(re.findall(r'<a id="([^"]+)"></a>', text))
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} (.+)$", _without_code(text), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found
