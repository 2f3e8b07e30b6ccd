from django.contrib import admin
from django.urls import path

from example_project.jobs import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("orders/<int:order_id>/receipt", views.receipt, name="receipt"),
    path("tasks/<str:task_id>", views.task_result, name="task-result"),
]
