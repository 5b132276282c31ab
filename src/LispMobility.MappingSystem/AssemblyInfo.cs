namespace LispMobility.MappingSystem;
