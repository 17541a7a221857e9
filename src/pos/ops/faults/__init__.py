"""The chaos run behind `pos chaos`: a scratch stack, a fault schedule and its injector."""
