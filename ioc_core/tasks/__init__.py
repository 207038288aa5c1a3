"""Background work on dramatiq: the broker chosen by IOC_BROKER_URL, plugin tasks, workers."""
