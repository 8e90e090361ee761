"""Background jobs of the warehouse, run by Celery workers."""

from celery import shared_task


@shared_task
def restock(sku, count):
    return {"sku": sku, "count": count}


@shared_task
def notify(result):
    return f"restocked {result['sku']}"
