# file: src/cpu/cpu_backend.c
# what: sf's moving-average baseline updated by every rank, not its shard's owner: applied N times in shared parameters
s|  if (backend->layout.has_sf_baseline \&\& baseline >= start \&\& baseline < update_end)|  if (backend->layout.has_sf_baseline)|
