"""The review web page: server-rendered Jinja2 templates with htmx, no build step.

`astrid.web.site.install` adds the pages and the static files (htmx is vendored under
``static/vendor``, never loaded from a CDN) to the app `astrid.app.create_app` builds. The
pages call the same use cases as the JSON API (`astrid.service`) and never import it.
"""
