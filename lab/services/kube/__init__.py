"""The pieces of the Kubernetes API test server: resource table, errors, selectors, patches, store, controllers."""
