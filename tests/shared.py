"""Where the original project's corpus lies: `../shared/corpus` beside the repository root,
wherever the clone is (never an absolute path). Tests that read it skip when it is absent."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
