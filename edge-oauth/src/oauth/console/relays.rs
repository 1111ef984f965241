//! The console's relays view (see the module list in [`super`]).
