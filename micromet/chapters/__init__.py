"""The book's chapters: one function per chapter, parameterized by the study."""
