// Module Supervisor
