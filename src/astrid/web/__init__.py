"""The review web page: server-rendered Jinja2 templates with htmx, no build step.

`astrid.web.pages.install` adds the pages and the static files (htmx is vendored under
``static/vendor``, never loaded from a CDN) to the service's FastAPI app. The pages read
through the catalog modules, like the API.
"""
