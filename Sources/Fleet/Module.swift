// Module Fleet
