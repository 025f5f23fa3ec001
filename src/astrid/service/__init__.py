"""What the JSON API and the web page share: the running service and its use cases.

- `state`: the `Service` (settings, catalog, store, authentication, metrics, worker);
- `auth`, `jwks`: who is calling (API keys, JWTs, web sessions) and with which role;
- `deps`, `params`: FastAPI dependencies and request parameters both front ends use;
- `candidates`, `review`, `keys`: the use cases (list candidates, show one with its
  labels, label one, hand out the next to review, revoke a key) that `astrid.api` renders
  as JSON and `astrid.web` as HTML;
- `metrics`, `cutout_images`: Prometheus metrics and cutout PNGs.

Nothing here imports `astrid.api` or `astrid.web`; `astrid.app` builds the app from both.
"""
