//! The console's apps view (see the module list in [`super`]).
