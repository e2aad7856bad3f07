"""The user-item graph: building, saving, loading, co-occurrence, negatives and sampling."""

from storex.graph.artifacts import GraphArtifacts, load_artifacts, load_manifest, save_artifacts
from storex.graph.builder import (
    ITEM,
    RATES,
    REV_RATES,
    USER,
    GraphBuilder,
    assemble_hetero,
    split_edge_index,
    to_homogeneous_bipartite,
)
from storex.graph.cooccurrence import build_item_cooccurrence
from storex.graph.dataset import StoreXDataset
from storex.graph.encoding import encode_interactions, interactions_fingerprint
from storex.graph.negatives import KnownPositives, sample_bpr_triplets, sample_negatives
from storex.graph.neighbors import TorchNeighborSampler, make_neighbor_sampler

__all__ = [
    "ITEM",
    "RATES",
    "REV_RATES",
    "USER",
    "GraphArtifacts",
    "GraphBuilder",
    "KnownPositives",
    "StoreXDataset",
    "TorchNeighborSampler",
    "assemble_hetero",
    "build_item_cooccurrence",
    "encode_interactions",
    "interactions_fingerprint",
    "load_artifacts",
    "load_manifest",
    "make_neighbor_sampler",
    "sample_bpr_triplets",
    "sample_negatives",
    "save_artifacts",
    "split_edge_index",
    "to_homogeneous_bipartite",
]
