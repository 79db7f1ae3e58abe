"""Payments: money received on won deals, feeding the funnel's plan fulfilment (an example plugin
grown from `conveyor plugin new payments`)."""
