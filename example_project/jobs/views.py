"""Views of the example: enqueue a task, then ask for its result."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django_tasks.exceptions import TaskResultDoesNotExist

from .tasks import send_receipt


@csrf_exempt
@require_POST
def receipt(request: HttpRequest, order_id: int) -> JsonResponse:
    result = send_receipt.enqueue(order_id, request.POST.get("email", "buyer@example.com"))
    return JsonResponse({"task_id": result.id, "status": result.status}, status=202)


@require_GET
def task_result(request: HttpRequest, task_id: str) -> JsonResponse:
    try:
        result = send_receipt.get_result(task_id)
    except TaskResultDoesNotExist:
        return JsonResponse({"error": "no such task"}, status=404)
    body = {"task_id": result.id, "status": result.status, "attempts": result.attempts}
    if result.is_finished and result.status == "SUCCESSFUL":
        body["return_value"] = result.return_value
    return JsonResponse(body)
