"""Fixtures the planning tests share: a workspace that needs approval, and text posts to two
accounts paced fast (for the queue, the calendar and their API)."""

import pytest

from ..factories import PostFactory, PublishingPolicyFactory, SocialAccountFactory


@pytest.fixture
def approving(workspace):
    workspace.posts_need_approval = True
    workspace.save(update_fields=["posts_need_approval"])
    return workspace


@pytest.fixture
def text_post(workspace):
    PublishingPolicyFactory(workspace=workspace, fast=True)
    accounts = SocialAccountFactory.create_batch(2, workspace=workspace)

    def make(**fields):
        post = PostFactory(workspace=workspace, media_type="text", **fields)
        post.target_accounts.set(accounts)
        return post

    return make
