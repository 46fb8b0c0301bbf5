"""Ways into the module's UART, one small module each (DESIGN: ``transport/``)."""
