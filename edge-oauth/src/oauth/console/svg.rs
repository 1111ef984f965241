//! The console's svg view (see the module list in [`super`]).
