"""Reading report files into cleaned pages and page-aware chunks. Depends on nothing else of OnRecord."""
