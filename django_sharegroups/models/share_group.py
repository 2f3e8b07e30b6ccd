"""The admin's handle on share groups that live on the Kafka cluster, not in the database."""

from django.db import models


class ShareGroup(models.Model):
    """A share group on the broker. It has no table and no rows: the admin lists and describes
    groups through the share-group admin client. The model exists to give the admin its
    "Share groups" section and to carry the permissions that guard the dangerous actions."""

    group_id = models.CharField(max_length=255, primary_key=True)

    class Meta:
        managed = False
        db_table = "django_sharegroups_sharegroup_on_broker"
        verbose_name = "share group"
        verbose_name_plural = "share groups"
        default_permissions = ("view",)
        permissions = [
            ("reset_share_group_offsets", "Can reset the start offsets (SPSO) of share groups"),
            ("change_share_group_config", "Can change the configs of share groups"),
            ("delete_share_group", "Can delete share groups"),
        ]

    def __str__(self) -> str:
        return self.group_id
