"""The DuckDB store: the only code that writes SQL. `from core import store` gives the
database wrapper and every query."""
from core.store.db import MIGRATIONS, Database, StoreError
from core.store.jobs import (cancel_job, create_job, get_job, list_jobs, mark_finished, mark_progress,
                             mark_running, queue_position, status_of, unfinished_jobs)
from core.store.reviews import model_aggregates, review_table, reviews_for, save_review
from core.store.stories import (EXPORT_FORMATS, SOURCES, Story, StoryFilter, count_stories, delete_story,
                                export_bytes, get_story, import_jsonl, list_stories, profiles, purge_deleted,
                                restore_story, save_story, saved_copy, stories_with_word, word_contexts, words_met,
                                write_export)
from core.store.wordlists import (CLASS, RESERVED_LIST_NAMES, backup_of, backups, check_list_name,
                                  delete_word_list, list_changes, load_word_list, load_word_lists,
                                  restore_word_list, save_word_list, word_lists)

__all__ = [
    "CLASS", "EXPORT_FORMATS", "MIGRATIONS", "backup_of", "backups", "list_changes", "restore_word_list", "RESERVED_LIST_NAMES", "SOURCES", "Database", "Story", "StoryFilter",
    "StoreError", "cancel_job", "create_job", "get_job", "list_jobs", "mark_finished", "mark_progress",
    "mark_running", "queue_position", "status_of", "unfinished_jobs", "check_list_name", "count_stories", "delete_story", "delete_word_list", "export_bytes",
    "get_story", "import_jsonl", "list_stories", "load_word_list", "load_word_lists", "model_aggregates",
    "profiles", "purge_deleted", "restore_story", "review_table", "reviews_for", "save_review", "save_story",
    "save_word_list", "saved_copy", "stories_with_word", "word_contexts", "word_lists", "words_met", "write_export",
]
