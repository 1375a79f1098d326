"""The order confirmation, sent by a background task after the response has gone out."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from shop.models import Notification, Order


async def send_order_confirmation(
    sessionmaker: async_sessionmaker[AsyncSession], order_id: int
) -> None:
    """Record the confirmation message for an order (the log row stands in for the e-mail).

    It runs after the response has been sent, as its own unit of work, so it opens a session
    of its own from the sessionmaker: a new connection and a new transaction. (Whether the
    request's session is still open by then depends on FastAPI: in 0.165 it is, unless the
    dependency is declared with `Depends(..., scope="function")`; in 0.106 to 0.117 it never was.)
    """
    async with sessionmaker() as session:
        order = await session.get(Order, order_id, options=[selectinload(Order.customer)])
        if order is None:
            raise LookupError(f"order {order_id} does not exist (was it committed?)")
        session.add(
            Notification(
                order_id=order_id,
                recipient=order.customer.email,
                subject=f"Your order #{order_id} is confirmed",
            )
        )
        await session.commit()
