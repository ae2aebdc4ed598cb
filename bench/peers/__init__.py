"""The peers our sync is measured against, each a measured process of its own: the raw COPY
floor (`raw_copy`), the pandas + GX baseline (`pandas_gx`) and dlt (`dlt_load`, in its own
virtualenv, made and run by `dlt_peer`)."""
