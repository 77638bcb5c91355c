"""Stores and clusters: which stores a cluster holds, and how many each cluster has."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.app.models import Store, StoreCluster
from backend.app.queries.errors import NotFound
from backend.app.schemas.read_models import ClusterStoreCount, StoreAttributes


def stores_of_cluster(session: Session, cluster_id: str) -> list[StoreAttributes]:
    """The cluster's stores with their attributes, by store_id; [] for an empty cluster."""
    if session.get(StoreCluster, cluster_id) is None:
        raise NotFound(f"store cluster {cluster_id!r} does not exist")
    stores = session.scalars(
        select(Store).where(Store.cluster_id == cluster_id).order_by(Store.store_id)
    ).all()
    return [StoreAttributes.model_validate(store) for store in stores]


def clusters_with_store_counts(session: Session) -> list[ClusterStoreCount]:
    """Every cluster, including those without stores, with its store count, by cluster_id."""
    rows = session.execute(
        select(
            StoreCluster.cluster_id,
            StoreCluster.cluster_name,
            StoreCluster.fashion_tier,
            func.count(Store.store_id).label("store_count"),
        )
        .outerjoin(Store, Store.cluster_id == StoreCluster.cluster_id)
        .group_by(StoreCluster.cluster_id, StoreCluster.cluster_name, StoreCluster.fashion_tier)
        .order_by(StoreCluster.cluster_id)
    ).all()
    return [ClusterStoreCount(**row._mapping) for row in rows]
