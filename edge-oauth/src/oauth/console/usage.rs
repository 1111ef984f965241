//! The console's usage view (see the module list in [`super`]).
