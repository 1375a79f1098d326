"""Errors the service layer raises; the app turns each into an HTTP response with its status."""


class ShopError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(ShopError):
    status_code = 404


class AlreadyExists(ShopError):
    status_code = 409


class OutOfStock(ShopError):
    status_code = 409


class UnknownCurrency(ShopError):
    status_code = 400


class RatesUnavailable(ShopError):
    """The exchange-rate service failed: our fault to report is a bad gateway."""

    status_code = 502
