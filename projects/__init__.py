"""Projects: self-contained extensions of dformer_seg (see projects/README.md)."""
