"""dockyard: pipelines to live traffic."""
