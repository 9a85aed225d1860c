"""Posts with media for the platform tests."""

from ..factories import MediaAssetFactory, PostFactory, PostMediaFactory, VideoAssetFactory


def make_post(
    account, media_type="photo", *, caption, images=1, videos=0, image_factory=MediaAssetFactory, video_renditions=(), **fields
):
    """A post to ``account`` with ``images`` then ``videos`` (real clips; ``video_renditions`` made in advance)."""
    post = PostFactory(workspace=account.workspace, media_type=media_type, caption=caption, **fields)
    if media_type != "text":
        assets = [image_factory(workspace=account.workspace) for _ in range(images)]
        assets += [VideoAssetFactory(workspace=account.workspace, renditions=list(video_renditions)) for _ in range(videos)]
        for position, asset in enumerate(assets):
            PostMediaFactory(post=post, asset=asset, position=position)
    post.target_accounts.set([account])
    return post
