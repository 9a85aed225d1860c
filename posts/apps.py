from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class PostsConfig(AppConfig):
    name = "posts"
    verbose_name = pgettext_lazy("application", "Posts")
