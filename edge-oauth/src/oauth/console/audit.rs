//! The console's audit view (see the module list in [`super`]).
