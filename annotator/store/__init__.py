"""Storage of the corpus and of every annotator's journal."""

from annotator.store.base import Change, DocInfo, ImportStats, Journal, Store, Unit
from annotator.store.sqlite import SQLiteJournal, SQLiteStore

__all__ = ["Change", "DocInfo", "ImportStats", "Journal", "SQLiteJournal", "SQLiteStore",
           "Store", "Unit"]
