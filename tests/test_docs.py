"""Every design note the code cites lives in the repository's docs/, and every cited section exists."""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CITING = [*REPO.glob("pulse_teach/**/*.py"), *REPO.glob("tests/*.py"), *REPO.glob("benchmarks/*.py"),
          *REPO.glob("notebooks/*.ipynb"), REPO / "README.md", REPO / "DEVELOPERS.md", REPO / "notebooks" / "INSTRUCTORS.md"]
CITATION = re.compile(r"((?:\.\./)*(?:shared/)?docs/[\w-]+\.md)(?:[`,)]*\s*§\s?(\d+)(?:\.(\d+))?)?")


def _citations() -> list[tuple[Path, str, str | None, str | None]]:
    found = []
    for path in CITING:
        if path.name == "test_docs.py":
            continue
        found += [(path, *m.groups()) for m in CITATION.finditer(path.read_text(encoding="utf-8"))]
    return found


def _sections(note: Path) -> set[str]:
    return {".".join(filter(None, m.groups())) for m in re.finditer(r"^#{2,3} (\d+)\.(?:(\d+))?", note.read_text(), re.M)}


def test_the_code_cites_design_notes():
    assert {Path(cited).name for _, cited, _, _ in _citations()} >= {"pulse_method.md", "stylegan2_checkpoints.md"}


def test_every_cited_note_and_section_is_in_the_repository():
    problems = []
    for path, cited, section, subsection in _citations():
        where = path.relative_to(REPO)
        if not cited.startswith("docs/"):
            problems.append(f"{where}: cites {cited}, outside the repository: cite docs/{Path(cited).name}")
            continue
        note = REPO / cited
        if not note.is_file():
            problems.append(f"{where}: cites {cited}, which does not exist")
        elif section and ".".join(filter(None, (section, subsection))) not in _sections(note):
            problems.append(f"{where}: cites {cited} §{section}{'.' + subsection if subsection else ''}, not a section there")
    assert not problems, "\n".join(problems)
