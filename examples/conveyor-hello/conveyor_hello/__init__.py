"""Hello: an example third-party Conveyor plugin — a greeting page only sellers see."""
