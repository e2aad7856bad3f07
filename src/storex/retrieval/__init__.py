"""Top-K retrieval over dot-product factors: exact chunked GEMM, and nearest-neighbour
indexes for big catalogues. Batch scoring and the service share these calls, so their
answers agree."""

from storex.retrieval.exact import exact_top_k

__all__ = ["exact_top_k"]
